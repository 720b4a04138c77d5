"""Item representations behind one interface: full table, compositional codes, tensor trains."""
