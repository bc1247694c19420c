"""DL/T 645: the frame codec, identifiers and value formats (:mod:`.frame`) and the bus client
(:mod:`.bus`)."""
