"""Content negotiation between the two GraphQL-over-HTTP media types."""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_OFFERS = {GRAPHQL_RESPONSE: GRAPHQL_RESPONSE, JSON: JSON, "application/*": JSON, "*/*": JSON}


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither of ours."""
    if not accept or not accept.strip():
        return JSON  # the spec's advice for clients that predate it
    best_rank: tuple[float, bool, int] | None = None
    best: str | None = None
    for position, item in enumerate(accept.split(",")):
        media, quality = _media_range(item)
        offer = _OFFERS.get(media)
        if offer is None or quality <= 0:
            continue
        # Higher quality wins; on a tie, the spec's own media type, then the earlier entry.
        rank = (quality, offer == GRAPHQL_RESPONSE, -position)
        if best_rank is None or rank > best_rank:
            best_rank, best = rank, offer
    return best


def _media_range(item: str) -> tuple[str, float]:
    media, _, params = item.partition(";")
    quality = 1.0
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                quality = 0.0
    return media.strip().lower(), quality
