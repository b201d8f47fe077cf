from trajcheck.core import Claim, Property, Result  # noqa: F401
