"""MQTT: payload mapping (:mod:`.payload`), signed envelopes and the DeviceRegistry check
(:mod:`.signed`), and the collector that subscribes and journals (:mod:`.client`)."""
