"""Exports in the JSON API (staff tokens only), on ``grants.api.views.bp``.

``POST /exports`` asks for an export (the worker produces it; the answer is the job, 202),
``GET /exports/{id}`` follows it (status, progress), ``GET /exports/{id}/file`` downloads
the file once done, ``GET /exports/scdl?year=YYYY`` answers the SCDL open-data CSV of a
year at once (422 with the problems if the data does not validate against the schema).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Response, current_app, jsonify, request, url_for
from flask_login import current_user

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.core.files import send_stored_file
from grants.core.storage import StoredFileNotFound
from grants.exports import operations, queries, scdl, writers
from grants.exports.models import ExportFormat, ExportJob, ExportKind, ExportStatus
from grants.extensions import db

TAGS = ["Exports"]
JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant de l'export.",
}
PARAMS = {
    "type": "object",
    "additionalProperties": False,
    "description": "Filtres. Exports tableur : `call_id` (un appel) et `year` (dossiers, notes, "
    "décisions : appels dont les années budgétaires comprennent l'année ; échéanciers et "
    "paiements : année de la tranche). SCDL : `year` (obligatoire, année des décisions) et "
    "`all` (toutes les aides, pas seulement celles de plus de 23 000 €).",
    "properties": {
        "call_id": {"type": "integer"},
        "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
        "all": {"type": "boolean"},
    },
}
JOB = schema(
    "ExportJob",
    {
        "type": "object",
        "required": ["id", "kind", "format", "params", "status", "progress", "total"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": [k.value for k in ExportKind]},
            "format": {"type": "string", "enum": [f.value for f in ExportFormat]},
            "params": PARAMS,
            "status": {"type": "string", "enum": [s.value for s in ExportStatus]},
            "status_label": {"type": "string"},
            "progress": {"type": "integer", "description": "Lignes écrites."},
            "total": {"type": "integer", "description": "Lignes à écrire."},
            "error": {
                "type": "string",
                "nullable": True,
                "description": "En cas d'échec, le message (en français) ; pour le SCDL, la "
                "liste des problèmes par ligne et colonne.",
            },
            "filename": {"type": "string", "nullable": True},
            "file_url": {
                "type": "string",
                "nullable": True,
                "description": "Le téléchargement, quand l'export est prêt.",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
)
JOB_INPUT = schema(
    "ExportJobInput",
    {
        "type": "object",
        "required": ["kind", "format"],
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": [k.value for k in ExportKind]},
            "format": {
                "type": "string",
                "enum": [f.value for f in ExportFormat],
                "description": "CSV : UTF-8 avec BOM, séparateur « ; », montants avec un point "
                "décimal, dates AAAA-MM-JJ. XLSX : montants en nombres au format euro. Le "
                "SCDL est toujours un CSV (UTF-8 sans BOM, séparateur « , »).",
            },
            "params": PARAMS,
        },
    },
)
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
CSV_BODY = {"text/csv": {"schema": {"type": "string"}}}


def _forbidden():
    return api_error(403, "Action interdite", "Réservé aux agents du service.")


def _is_staff() -> bool:
    return bool(current_user.is_authenticated and current_user.is_staff)


def _iso(value):
    return value.isoformat() if value else None


def job_json(job: ExportJob) -> dict:
    done = job.status == ExportStatus.done
    return {
        "id": job.id,
        "kind": job.kind.value,
        "format": job.format.value,
        "params": job.params or {},
        "status": job.status.value,
        "status_label": queries.STATUS_LABELS[job.status],
        "progress": job.progress,
        "total": job.total,
        "error": job.error,
        "filename": job.filename if done else None,
        "file_url": url_for("api.exports_file", job_id=job.id) if done else None,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


@bp.post("/exports")
@operation(
    "/exports",
    "post",
    {
        "summary": "Demander un export (agents)",
        "description": "Crée un export produit par le serveur en arrière-plan ; suivre "
        "`GET /exports/{id}` puis télécharger `file_url`.",
        "tags": TAGS,
        "requestBody": json_body(JOB_INPUT),
        "responses": {
            "202": json_response("L'export est demandé.", JOB),
            "400": json_response("Le corps n'est pas un objet JSON.", ref("Error")),
            "422": INVALID,
        },
    },
)
def exports_create():
    if not _is_staff():
        return _forbidden()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return api_error(400, "Requête invalide", "Envoyez un objet JSON.")
    unknown = sorted(set(data) - {"kind", "format", "params"})
    if unknown:
        return api_error(422, "Saisie invalide", fields={k: ["Champ inconnu."] for k in unknown})
    try:
        job = operations.request_export(
            current_user, data.get("kind"), data.get("format"), data.get("params")
        )
    except operations.ExportError as exc:
        db.session.rollback()
        return api_error(422, "Saisie invalide", str(exc), exc.fields)
    db.session.commit()
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.exports_show", job_id=job.id)
    return response


@bp.get("/exports/<int:job_id>")
@operation(
    "/exports/{job_id}",
    "get",
    {
        "summary": "Un export : état et avancement (agents)",
        "tags": TAGS,
        "parameters": [JOB_ID],
        "responses": {"200": json_response("L'export.", JOB)},
    },
)
def exports_show(job_id: int):
    if not _is_staff():
        return _forbidden()
    job = db.session.get(ExportJob, job_id)
    if job is None:
        return api_error(404, "Ressource introuvable", "Cet export n'existe pas.")
    return jsonify(job_json(job))


@bp.get("/exports/<int:job_id>/file")
@operation(
    "/exports/{job_id}/file",
    "get",
    {
        "summary": "Le fichier d'un export terminé (agents)",
        "tags": TAGS,
        "parameters": [JOB_ID],
        "responses": {
            "200": {
                "description": "Le fichier (XLSX ou CSV), en pièce jointe.",
                "content": {
                    writers.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}},
                    **CSV_BODY,
                },
            },
            "409": json_response("L'export n'est pas (encore) prêt.", ref("Error")),
        },
    },
)
def exports_file(job_id: int):
    if not _is_staff():
        return _forbidden()
    job = db.session.get(ExportJob, job_id)
    if job is None:
        return api_error(404, "Ressource introuvable", "Cet export n'existe pas.")
    if job.status != ExportStatus.done or not job.file_key:
        message = (
            "L'export a échoué : voir `error`."
            if job.status == ExportStatus.failed
            else "L'export est en cours : réessayez dans quelques instants."
        )
        return api_error(409, "Export pas prêt", message)
    content_type = (
        writers.XLSX_CONTENT_TYPE if job.format == ExportFormat.xlsx else writers.CSV_CONTENT_TYPE
    )
    try:
        return send_stored_file(job.file_key, job.filename or f"export-{job.id}", content_type)
    except StoredFileNotFound:
        return api_error(404, "Ressource introuvable", "Le fichier de cet export a disparu.")


@bp.get("/exports/scdl")
@operation(
    "/exports/scdl",
    "get",
    {
        "summary": "Les subventions attribuées d'une année au format SCDL 2.1.1 (agents)",
        "description": "Le CSV des données ouvertes (une ligne par aide dont la convention "
        "est signée, décidée dans l'année), vérifié par rapport au schéma officiel et à ses "
        "contrôles (SIRET valides ; idBeneficiaire ou rnaBeneficiaire). Par défaut les aides "
        "de plus de 23 000 € (obligation légale) ; `all=true` : toutes.",
        "tags": TAGS,
        "parameters": [
            {
                "name": "year",
                "in": "query",
                "required": True,
                "schema": {"type": "integer", "minimum": 2000, "maximum": 2100},
                "description": "Année des décisions d'attribution.",
            },
            {
                "name": "all",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean", "default": False},
                "description": "Toutes les aides, pas seulement celles de plus de 23 000 €.",
            },
        ],
        "responses": {
            "200": {
                "description": "Le fichier CSV (UTF-8, séparateur « , »).",
                "content": CSV_BODY,
            },
            "422": json_response(
                "Année invalide, ou données qui ne respectent pas le schéma : `error.fields."
                "rows` liste les problèmes.",
                ref("Error"),
            ),
        },
    },
)
def exports_scdl():
    if not _is_staff():
        return _forbidden()
    try:
        _kind, _format, params = operations.check_request(
            ExportKind.scdl,
            ExportFormat.csv,
            {"year": request.args.get("year"), "all": request.args.get("all", "false")},
        )
    except operations.ExportError as exc:
        return api_error(422, "Saisie invalide", str(exc), exc.fields)
    year, include_all = params["year"], bool(params.get("all"))
    with tempfile.TemporaryDirectory(prefix="grants-scdl-") as folder:
        path = Path(folder) / "scdl.csv"
        result = scdl.build_scdl(path, year, current_app.config, include_all=include_all)
        db.session.rollback()
        if not result.valid:
            return api_error(
                422,
                "Données non conformes au schéma SCDL",
                scdl.problem_text(result).splitlines()[0],
                {"rows": result.report.lines()},
            )
        data = path.read_bytes()
    response = Response(data, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="subventions-scdl-{year}.csv"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
