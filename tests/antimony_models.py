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

# a Michaelis-Menten step between an intake and a first-order outflow: outside the LIFE class,
# one stable steady state S1 = Km k0 / (Vm - k0) = 0.5, S2 = k0 / k2 = 1
MM_CHAIN = """
J0: -> S1; k0
J1: S1 -> S2; Vm*S1/(Km + S1)
J2: S2 -> ; k2*S2
k0 = 1; Vm = 2; Km = 0.5; k2 = 1
S1 = 0; S2 = 0
"""

# the Brusselator beyond its Hopf point (b > 1 + a^2): its fixed point is unstable, a limit cycle
BRUSSELATOR = """
model brusselator
  J1: -> X; a
  J2: X -> Y; b*X
  J3: 2 X + Y -> 3 X; X^2*Y
  J4: X -> ; X
  a = 1; b = 3
  X = 1; Y = 1
end
"""
