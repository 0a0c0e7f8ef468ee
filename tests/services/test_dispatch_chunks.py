"""How the producer splits a batch's emails into the chunks it marks ``sending`` one transaction each."""

from cadence.services.advance.dispatch import chunks


def test_the_first_chunk_is_one_email_per_connection_then_full_chunks() -> None:
    assert list(chunks(list(range(20)), first=3, size=8)) == [
        [0, 1, 2],
        [3, 4, 5, 6, 7, 8, 9, 10],
        [11, 12, 13, 14, 15, 16, 17, 18],
        [19],
    ]


def test_every_email_is_in_exactly_one_chunk_whatever_the_sizes() -> None:
    for count in range(40):
        for first in (1, 4, 8):
            for size in (1, 8, 64):
                parts = list(chunks(list(range(count)), first=first, size=size))
                assert [x for part in parts for x in part] == list(range(count))
                assert all(parts), parts  # no empty chunk: each one is a transaction
