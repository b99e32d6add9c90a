from collections import Counter
from tests.integration.test_race import *  # noqa

def test_dbg(uow, catalog):
    review_id = ready_to_approve(uow, catalog)
    request = DecisionRequest(review_id, DecisionKind.APPROVE, OLGA, phase="needed")
    outcomes = race(lambda: decide(uow(), request))
    print(Counter(str(o).split(":")[-1] if o else "WIN" for o in outcomes))
