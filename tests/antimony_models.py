"""Small Antimony models shared by the tests of the general path (imported by name: pytest puts
tests/ on the path, as for isolate_helpers)."""

# a genetic toggle switch: two stable states (u high or v high) and a saddle between them
TOGGLE = """
model toggle
  J1: -> u; a1 / (1 + v^2)
  J2: u -> ; u
  J3: -> v; a2 / (1 + u^2)
  J4: v -> ; v
  a1 = 3; a2 = 3
  u = 2; v = 0.1
end
"""
