"""The identity graph: applications linked by what they share (phone, device, address, bank
card, employer), and the ring each application belongs to.

Nodes are applications and the values they give (as keys: the blind index of a value, never
the value itself); an edge joins an application to each of its values. A ring is a
connected component: its size counts applications, its overdue share is the share of the
ring's *other* applications already past due, and ``linked_by`` names the fields of the
values that join more than one application.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import networkx as nx

from xinbao.risk.model.antifraud import Node, Ring

LINK_FIELDS = ("phone", "device_id", "address", "bank_card", "employer")


class IdentityGraph:
    def __init__(self, nodes: Iterable[Node]) -> None:
        self._graph = nx.Graph()
        self._overdue: dict[int, bool] = {}
        for node in nodes:
            app = ("app", node.application_id)
            self._graph.add_node(app)
            self._overdue[node.application_id] = node.overdue
            for name in LINK_FIELDS:
                value = node.values.get(name)
                if value:
                    self._graph.add_edge(app, (name, value))
        self._rings: dict[int, Ring] = {}
        for component in nx.connected_components(self._graph):
            apps = [n[1] for n in component if n[0] == "app"]
            shared = sorted({n[0] for n in component if n[0] != "app"
                             and self._graph.degree(n) > 1})
            for app_id in apps:
                others = [a for a in apps if a != app_id]
                share = (Decimal(sum(self._overdue[a] for a in others)) / len(others)
                         if others else Decimal(0))
                self._rings[app_id] = Ring(len(apps), share, tuple(shared))

    def has(self, application_id: int) -> bool:
        return application_id in self._rings

    def ring_of(self, application_id: int) -> Ring:
        return self._rings[application_id]

    def rings(self) -> list[list[int]]:
        """Every ring of two or more applications, largest first."""
        found = [sorted(n[1] for n in c if n[0] == "app")
                 for c in nx.connected_components(self._graph)]
        return sorted((r for r in found if len(r) > 1), key=lambda r: (-len(r), r))
