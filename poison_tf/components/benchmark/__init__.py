"""The `backdoor_benchmark` study: BackdoorBench's attacks × defences on one victim, its metrics."""
