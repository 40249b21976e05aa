"""The contenders of the transition benchmark: kflow, its peers and the raw-SQL floors."""
