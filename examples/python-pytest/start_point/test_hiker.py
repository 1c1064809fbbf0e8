from hiker import global_answer


def test_life_the_universe_and_everything():
    assert global_answer() == 42
