from kflow.cases.models import Case


def test_chain_reaches_local_unit(world):
    li = world.implementation_in("acknowledged")
    assert li.state == "acknowledged"
    assert world.session.query(Case).filter_by(type="regional_adaptation").count() == 21
