"""SSH on the wire: the simulator's Diego ssh proxy against the era's real Go SSH server and real clients."""
