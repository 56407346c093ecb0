"""Four-color risk (四色风险) of hazard sources, areas and the enterprise; warning cases."""
