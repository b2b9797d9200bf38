"""Small, valid datasets generated from a seed, one module per supported file format (gcnet, mmsa,
mosi_poria, npz): the real loaders read them unchanged, so loader tests need no real data."""
