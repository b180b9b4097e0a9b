import pytest

from hirondelle.domain.keywords import SHORT_REPLY_WORDS, keyword_of


@pytest.mark.parametrize(
    "message",
    [
        "STOP",
        "stop",
        "Stop",
        "stop!",
        "STOP.",
        "  STOP  ",
        "\nstop\n",
        "STOP SMS",
        "Stop merci",
        " Stop merci",
        "Merci, stop",
        "ok stop svp",
        "svp STOP merci beaucoup",  # 4 words
        "Stop je ne veux plus recevoir vos messages",  # long, but the first word
        "ARRET",
        "Arrêt",
        "arrêt svp",
        "STOP START",  # the first keyword decides
        "«STOP»",
        "STOP😡",
    ],
)
def test_stop(message: str) -> None:
    assert keyword_of(message) == "stop"


@pytest.mark.parametrize(
    "message",
    [
        "START",
        "start",
        "Start!",
        "REABO",
        "reabo",
        "Réabo",
        "START merci",
        "oui start",
        "start stop",
    ],
)
def test_start(message: str) -> None:
    assert keyword_of(message) == "start"


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "Merci",
        "non-stop",
        "NON-STOP",
        "stopper",
        "STOPPEZ",
        "STOP2",
        "Stop-pub",
        "l'arrêt",
        "restart",
        "startup",
        "REABONNEMENT",
        "Je ne peux pas venir, stop",  # 6 words, not first
        "Oui je viendrai au rendez-vous de demain stop",
        "Ok pour demain, à l'arrêt de bus",
    ],
)
def test_not_a_keyword(message: str) -> None:
    assert keyword_of(message) is None


def test_short_reply_limit() -> None:
    short = " ".join(["merci"] * (SHORT_REPLY_WORDS - 1) + ["stop"])
    long = " ".join(["merci"] * SHORT_REPLY_WORDS + ["stop"])
    assert keyword_of(short) == "stop"
    assert keyword_of(long) is None
