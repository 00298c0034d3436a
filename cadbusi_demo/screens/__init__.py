"""Building blocks of the held-out screen generator (:mod:`cadbusi_demo.screens_heldout`):
caliper graphics (:mod:`.calipers`) and screen elements (:mod:`.elements`)."""
