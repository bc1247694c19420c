"""The demo's and the tests' peers: Plant 18 simulated, and the local processes it talks to.

A deterministic load model (:mod:`.model`) served on loopback over Modbus TCP (:mod:`.server`), Modbus RTU
(:mod:`.rtu`, over :mod:`.pty`'s socat serial pairs or TCP), DL/T 645 (:mod:`.dlt645`), MQTT (:mod:`.mqtt`
publishing to :mod:`.broker`'s mosquitto) and OPC UA (:mod:`.opcua`), with fault injection; and a local anvil
chain node (:mod:`.anvil`). None of this is collection: the collectors read real meters, and these stand in
for them. They live in the app because they start processes.
"""

from .model import LoadModel
from .server import PlantSimulator

__all__ = ["LoadModel", "PlantSimulator"]
