"""The alerts side of Elasticsearch: one document per alert id behind the `<prefix>-alerts` alias.

`upsert` reads the stored alert in real time, merges (`schemas.alerts.merge_alert`) and writes it
back conditioned on the version read (`if_seq_no`/`if_primary_term`); a concurrent writer makes it
read again. Alerts are few (one per story a rule fires on), so they never roll over: the alias has
one index and a GET by id through it is exact.
"""

from __future__ import annotations

import random
import time
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from connectors.es_indices import IndexNames, server_errors, server_url
from connectors.store import StoreError
from schemas.alerts import Alert, merge_alert

MAX_UPDATE_ATTEMPTS = 20
_MAX_BACKOFF_S = 0.25


class ElasticsearchAlertStore:
    """connectors.store.AlertStore over Elasticsearch; owns `client` unless told otherwise."""

    def __init__(self, client: Elasticsearch, names: IndexNames, *, owns_client: bool = True) -> None:
        self._client = client
        self._alias = names.alerts_alias
        self._owns_client = owns_client
        self._location = server_url(client)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def get_alert(self, alert_id: str) -> Alert | None:
        with server_errors(self._location):
            found = self._read(alert_id)
        return None if found is None else found[0]

    def upsert_alert(self, alert: Alert) -> Alert:
        """Store `alert` merged into the stored one with its id; returns what was stored."""
        rng = random.Random()
        with server_errors(self._location):
            for attempt in range(1, MAX_UPDATE_ATTEMPTS + 1):
                found = self._read(alert.id)
                merged = merge_alert(found[0] if found else None, alert)
                version: dict[str, Any] = (
                    {"if_seq_no": found[1], "if_primary_term": found[2]} if found else {"op_type": "create"}
                )
                try:
                    self._client.index(
                        index=self._alias, id=alert.id, document=merged.model_dump(mode="json"), **version
                    )
                    return merged
                except ConflictError:
                    if attempt < MAX_UPDATE_ATTEMPTS:
                        time.sleep(rng.uniform(0, min(_MAX_BACKOFF_S, 0.005 * 2**attempt)))
        raise StoreError(
            f"cannot store alert {alert.id} at {self._location}: "
            f"{MAX_UPDATE_ATTEMPTS} concurrent writes in a row got there first"
        )

    def alerts(self, *, limit: int = 50, rule_id: str | None = None) -> list[Alert]:
        """The most recently updated alerts first (optionally of one rule)."""
        query: dict[str, Any] = {"term": {"rule_id": rule_id}} if rule_id else {"match_all": {}}
        with server_errors(self._location):
            try:
                self._client.indices.refresh(index=self._alias)
                response = self._client.search(
                    index=self._alias, query=query, sort=[{"updated_at": "desc"}, {"id": "asc"}], size=limit
                )
            except NotFoundError:
                return []
        return [Alert.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]

    def _read(self, alert_id: str) -> tuple[Alert, int, int] | None:
        try:
            doc = self._client.get(index=self._alias, id=alert_id, realtime=True)
        except NotFoundError:
            return None
        return Alert.model_validate(doc["_source"]), int(doc["_seq_no"]), int(doc["_primary_term"])
