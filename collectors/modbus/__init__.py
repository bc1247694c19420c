"""Modbus: the register codec (:mod:`.registers`), one meter's read (:mod:`.meter`), the TCP gateway
pool (:mod:`.tcp`) and the RTU bus (:mod:`.rtu`)."""
