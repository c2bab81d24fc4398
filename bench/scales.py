"""Data-set sizes (``--scale``). ``city`` is the size issue 6 sets its targets at."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    districts: int
    streets_per_district: int
    communities_per_street: int
    compounds_per_community: int
    residents: int
    topics: int
    comments: int
    comments_on_hot_topic: int  # the topic page scenario reads a topic with this many comments
    voters: int = 0  # the vote storm: verified residents of one community on an open poll's roll
    round_comments: int = 0  # comments seeded into one open draft comment round (the round pages read it)
    surge_comments: int = 0  # the comment surge posts this many comments over HTTP into that round
    surge_by_count: bool = False  # True: the surge runs until surge_comments are sent; False: for --duration

    @property
    def communities(self) -> int:
        return self.districts * self.streets_per_district * self.communities_per_street

    def describe(self) -> dict[str, int]:
        return {"communities": self.communities, "residents": self.residents, "topics": self.topics,
                "comments": self.comments, "comments_on_hot_topic": self.comments_on_hot_topic,
                "voters": self.voters, "round_comments": self.round_comments,
                "surge_comments": self.surge_comments}


SCALES = {
    # 2 × 2 × 5 = 20 communities
    "small": Scale("small", districts=2, streets_per_district=2, communities_per_street=5,
                   compounds_per_community=2, residents=2_000, topics=400, comments=10_000,
                   comments_on_hot_topic=200, voters=2_000, round_comments=5_000, surge_comments=5_000),
    # 10 × 10 × 10 = 1,000 communities
    "city": Scale("city", districts=10, streets_per_district=10, communities_per_street=10,
                  compounds_per_community=3, residents=200_000, topics=20_000, comments=1_000_000,
                  comments_on_hot_topic=200, voters=20_000, round_comments=80_000, surge_comments=80_000,
                  surge_by_count=True),
}
