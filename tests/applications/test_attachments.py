"""Attachments: upload (type from content, size limits), replace, delete, download."""

from __future__ import annotations

import hashlib
import html
import io

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from grants.applications.models import Application, Attachment
from tests.applications.conftest import csrf
from tests.fixtures.applications import PDF_BYTES

#: what a Windows executable starts with (the "MZ" header and DOS stub)
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def _page(response) -> str:
    return (
        html.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")
    )


def _attachments(app, app_id):
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(
            sa.select(Attachment).where(Attachment.application_id == app_id).order_by(Attachment.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
    return rows


def _document_ids(app, call_id):
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        ids = [d.id for d in db.session.get(Call, call_id).documents]
        db.session.remove()
    return ids


def multipart(fields: dict) -> dict:
    """``client.post`` arguments for a multipart body built in memory (werkzeug's test
    builder spools big bodies to a temporary file it never closes)."""
    boundary, body = encode_multipart(fields)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def status_of(response) -> int:
    """The status of a response, its body read (a streamed download closes its file)."""
    with response:
        response.get_data()
    return response.status_code


def _upload(client, app_id, data: bytes, filename: str, document="autre"):
    token = csrf(client, f"/dossiers/{app_id}/etapes/pieces")
    return client.post(
        f"/dossiers/{app_id}/pieces/envoyer?document={document}",
        **multipart({"csrf_token": token, "file": FileStorage(io.BytesIO(data), filename)}),
    )


def test_upload_a_required_document_then_replace_it(
    app, applicant, create_call, create_application
):
    from grants.core.storage import get_storage

    call_id = create_call()
    statutes, _accounts, _rib = _document_ids(app, call_id)
    client, user_id, org_id = applicant()
    app_id = create_application(call_id, org_id)
    response = _upload(client, app_id, PDF_BYTES, "../../Statuts signés.PDF", statutes)
    assert response.status_code == 302
    (first,) = _attachments(app, app_id)
    assert first.required_document_id == statutes
    assert first.filename == "Statuts signés.pdf"  # the path is gone, the suffix lowered
    assert first.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert first.content_type == "application/pdf"
    assert first.uploaded_by_id == user_id
    assert "Statuts" not in first.storage_key and first.storage_key.startswith("attachments/")
    with app.app_context():
        assert get_storage().read(first.storage_key) == PDF_BYTES
    page = _page(client.get(f"/dossiers/{app_id}/etapes/pieces"))
    assert "Statuts signés.pdf" in page and "Remplacer le fichier" in page

    other_pdf = PDF_BYTES.replace(b"1.4", b"1.7")
    assert _upload(client, app_id, other_pdf, "statuts-2016.pdf", statutes).status_code == 302
    (second,) = _attachments(app, app_id)
    assert second.filename == "statuts-2016.pdf"
    assert second.sha256 == hashlib.sha256(other_pdf).hexdigest()
    with app.app_context():  # the replaced file is deleted from the storage
        assert not get_storage().exists(first.storage_key)
        assert get_storage().exists(second.storage_key)


def test_executable_renamed_pdf_is_refused_in_french(
    app, applicant, create_call, create_application
):
    call_id = create_call()
    statutes = _document_ids(app, call_id)[0]
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, title="Mon brouillon")
    response = _upload(client, app_id, EXE_BYTES, "statuts.pdf", statutes)
    assert response.status_code == 422
    page = _page(response)
    assert "n'est pas celui d'un fichier PDF valide" in page
    assert f'id="fichier-{statutes}-erreurs"' in page  # next to that document's file field
    assert _attachments(app, app_id) == []


def test_type_not_accepted_for_that_document(app, applicant, create_call, create_application):
    from tests.fixtures.applications import PDF_BYTES as _pdf  # noqa: F401

    call_id = create_call(documents=[("Photo du local", True, ["png", "jpeg"])])
    (photo,) = _document_ids(app, call_id)
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    response = _upload(client, app_id, PDF_BYTES, "local.pdf", photo)
    assert response.status_code == 422
    assert "Types acceptés : Image PNG ou Image JPEG." in _page(response)


def test_thirty_megabyte_upload_is_refused_and_the_draft_is_intact(
    app, applicant, create_call, create_application, load
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    before = _attachments(app, app_id)
    saved = load(Application, app_id)
    big = b"%PDF-1.4\n" + b"0" * (30 * 1024 * 1024)
    response = _upload(client, app_id, big, "enorme.pdf")
    assert response.status_code == 413
    page = _page(response)
    assert "Le fichier envoyé est trop volumineux : la taille maximale est de 10 Mo." in page
    assert 'id="fichier-autre-erreurs"' in page
    assert "Le reste du dossier n'a pas été modifié." in page
    after = load(Application, app_id)
    assert (after.title, after.summary, after.status, after.updated_at) == (
        saved.title,
        saved.summary,
        saved.status,
        saved.updated_at,
    )
    assert [a.sha256 for a in _attachments(app, app_id)] == [a.sha256 for a in before]


def test_upload_over_the_configured_limit_but_under_the_request_limit(
    app, applicant, create_call, create_application
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 + 10) + b"\n%%EOF\n"
    response = _upload(client, app_id, big, "gros.pdf")
    assert response.status_code == 422
    assert "Le fichier dépasse la taille maximale de 10 Mo." in _page(response)
    assert _attachments(app, app_id) == []


def test_upload_without_file(applicant, create_call, create_application):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    token = csrf(client, f"/dossiers/{app_id}/etapes/pieces")
    response = client.post(
        f"/dossiers/{app_id}/pieces/envoyer",
        data={"csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Choisissez un fichier à envoyer." in _page(response)


def test_other_documents_download_and_delete(app, applicant, create_call, create_application):
    from grants.core.storage import get_storage

    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    assert _upload(client, app_id, PDF_BYTES, "Lettre de soutien.pdf").status_code == 302
    (attachment,) = _attachments(app, app_id)
    assert attachment.required_document_id is None
    response = client.get(f"/dossiers/{app_id}/pieces/{attachment.id}")
    assert response.status_code == 200
    assert response.data == PDF_BYTES
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/pdf"
    token = csrf(client, f"/dossiers/{app_id}/etapes/pieces")
    response = client.post(
        f"/dossiers/{app_id}/pieces/{attachment.id}/supprimer", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert _attachments(app, app_id) == []
    with app.app_context():
        assert not get_storage().exists(attachment.storage_key)


def test_attachment_of_another_file_is_not_found_through_mine(
    app, applicant, create_call, create_application
):
    """The attachment id must belong to the file in the URL, even for its own members."""
    call_id = create_call()
    client, _user, org_id = applicant()
    mine = create_application(call_id, org_id)
    other = create_application(call_id, org_id, complete=True)
    attachment = _attachments(app, other)[0]
    assert status_of(client.get(f"/dossiers/{mine}/pieces/{attachment.id}")) == 404
    assert status_of(client.get(f"/dossiers/{other}/pieces/{attachment.id}")) == 200
    token = csrf(client, f"/dossiers/{mine}/etapes/pieces")
    response = client.post(
        f"/dossiers/{mine}/pieces/{attachment.id}/supprimer", data={"csrf_token": token}
    )
    assert response.status_code == 404
    assert len(_attachments(app, other)) == 2


def test_no_upload_once_submitted(app, applicant, create_call, create_application):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, status="submitted", complete=True)
    attachment = _attachments(app, app_id)[0]
    token = csrf(client, f"/dossiers/{app_id}")
    response = client.post(
        f"/dossiers/{app_id}/pieces/envoyer",
        data={"csrf_token": token, "file": (io.BytesIO(PDF_BYTES), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    response = client.post(
        f"/dossiers/{app_id}/pieces/{attachment.id}/supprimer", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert len(_attachments(app, app_id)) == 2
    # still downloadable by its members
    assert status_of(client.get(f"/dossiers/{app_id}/pieces/{attachment.id}")) == 200
