"""SRO Field Guide: an offline-first field reference for School Resource Officers."""

__version__ = "0.1.0"
