"""Plant 18 simulated: a deterministic load model and Modbus TCP servers that serve it on loopback."""

from .model import LoadModel
from .server import PlantSimulator

__all__ = ["LoadModel", "PlantSimulator"]
