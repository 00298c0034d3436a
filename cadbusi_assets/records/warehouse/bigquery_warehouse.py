"""BigQuery adapter (through google-cloud-bigquery, or a dagster-gcp ``BigQueryResource``).

A hospital maps its warehouse onto the logical schema with three views in one dataset
(``patients``, ``radiology_exams``, ``pathology_specimens``; columns as in
:mod:`cadbusi_assets.records.schemas`). The queries name the tables unqualified and the job's
default dataset points at ``project.dataset``.

Client choice, first that applies:

- ``client=``: any object with ``query(sql, job_config=..., location=...)`` (a
  ``bigquery.Client`` or a test double);
- ``resource=``: any object with a ``get_client()`` context manager, e.g.
  ``dagster_gcp.BigQueryResource`` (this module does not import Dagster);
- otherwise a ``bigquery.Client(project=..., location=...)`` with Application Default
  Credentials, created on first use.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

from cadbusi_assets.records.warehouse.base import SqlWarehouse, WarehouseError
from cadbusi_assets.records.warehouse.sql import dialect_sql


def query_parameter(name: str, value: Any):
    """The google-cloud-bigquery query parameter for one Python value."""
    from google.cloud import bigquery

    if isinstance(value, dt.datetime):
        return bigquery.ScalarQueryParameter(name, "DATETIME", value)
    if isinstance(value, dt.date):
        return bigquery.ScalarQueryParameter(name, "DATE", value)
    if isinstance(value, bool):
        return bigquery.ScalarQueryParameter(name, "BOOL", value)
    if isinstance(value, int):
        return bigquery.ScalarQueryParameter(name, "INT64", value)
    if isinstance(value, str):
        return bigquery.ScalarQueryParameter(name, "STRING", value)
    if isinstance(value, (list, tuple)):
        return bigquery.ArrayQueryParameter(name, "STRING", [str(v) for v in value])
    raise TypeError(f"no BigQuery parameter type for {type(value).__name__}")


class BigQueryWarehouse(SqlWarehouse):
    def __init__(
        self,
        project: str,
        dataset: str,
        *,
        client: Any | None = None,
        resource: Any | None = None,
        location: str | None = None,
        job_project: str | None = None,
        use_storage_api: bool = False,
    ) -> None:
        if not project or not dataset:
            raise WarehouseError(
                "BigQuery warehouse URI must be bigquery://<project>/<dataset> "
                "(the dataset that holds the patients, radiology_exams, pathology_specimens views)"
            )
        self.project = project
        self.dataset = dataset
        self.location = location
        self.job_project = job_project
        self.use_storage_api = use_storage_api
        self._client = client
        self._resource = resource
        self._owned_client = False
        self.description = f"BigQuery warehouse bigquery://{project}/{dataset}"

    def job_config(self, params: Mapping[str, Any]):
        """The ``QueryJobConfig`` of one query: default dataset and named parameters."""
        from google.cloud import bigquery

        return bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}",
            query_parameters=[query_parameter(k, v) for k, v in sorted(params.items())],
        )

    @contextlib.contextmanager
    def _client_context(self) -> Iterator[Any]:
        if self._client is not None:
            yield self._client
            return
        if self._resource is not None:
            with self._resource.get_client() as client:
                yield client
            return
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import bigquery

        try:
            self._client = bigquery.Client(project=self.project, location=self.location)
        except DefaultCredentialsError:
            raise WarehouseError(
                f"{self.description}: no Google credentials found. Set "
                "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run "
                "`gcloud auth application-default login`, or pass a BigQueryResource."
            ) from None
        self._owned_client = True
        yield self._client

    def _fetch(self, name: str, params: Mapping[str, Any]) -> pl.DataFrame:
        from google.api_core import exceptions as api_exceptions

        sql = dialect_sql(name, "bigquery")
        config = self.job_config(params)
        with self._client_context() as client:
            try:
                kwargs: dict[str, Any] = {"job_config": config, "location": self.location}
                if self.job_project:
                    kwargs["project"] = self.job_project
                rows = client.query(sql, **kwargs).result()
                table = rows.to_arrow(create_bqstorage_client=self.use_storage_api)
            except (api_exceptions.NotFound, api_exceptions.Forbidden) as error:
                raise WarehouseError(
                    f"{self.description}: query {name} failed: {type(error).__name__} "
                    f"({_first_line(getattr(error, 'message', ''))}). Check that the dataset "
                    "holds the documented views and that the credentials may read them."
                ) from None
            except api_exceptions.GoogleAPIError as error:
                raise WarehouseError(
                    f"{self.description}: query {name} failed ({type(error).__name__})."
                ) from None
        return pl.from_arrow(table)  # type: ignore[return-value]

    def close(self) -> None:
        if self._owned_client and self._client is not None:
            self._client.close()
            self._client = None
            self._owned_client = False


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0][:200] if (text or "").strip() else "no detail"
