"""The shadow family: ARShadowGAN-like shadows for objects inserted into photos."""
