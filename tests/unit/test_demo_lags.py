"""The demo's reading -> alarm lag: what the platform adds is told apart from the simulator's
transport (its send ticks and the readings it delays on purpose)."""

from pipelines.demo import split_lags


def test_platform_lag_is_measured_from_the_readings_arrival_and_delayed_readings_apart():
    """GIVEN three transitions caused by readings (one of them held back by a transport fault, one
    whose reading was not found in Kafka) WHEN split THEN the platform lag counts the two found
    readings from their Kafka time, and event-time lags are split on time / delayed."""
    caused = [
        (10_250, {"tag": "A", "reading_event_time_ms": 10_000}),
        (21_400, {"tag": "B", "reading_event_time_ms": 20_000}),
        (30_300, {"tag": "C", "reading_event_time_ms": 30_000}),
    ]
    arrived = {("A", 10_000): 10_130, ("B", 20_000): 21_250}

    lags = split_lags(caused, arrived, delayed={("B", 20_000)})

    assert lags == {"platform": [120, 150], "on_time": [250, 300], "delayed": [1400]}
