"""Services: the only code that changes kflow's data. They take a Session and never commit."""
