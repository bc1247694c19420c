"""DL/T 645: the frame codec, identifiers, data blocks and value formats (:mod:`.frame`), what a meter
answers and the requests that read it (:mod:`.support`), the bus time of an exchange and a cycle
(:mod:`.bustime`) and the bus client (:mod:`.bus`)."""
