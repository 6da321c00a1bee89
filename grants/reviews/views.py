"""Reviews: the reviewer's queue and scoring, conflicts and links; staff pool and assignments.

Access rule, the same on the pages and on the API: a reviewer reaches a review — the file,
its attachments, the scoring form — only when it is theirs and they are not in conflict
on the file; anything else is a 404 (its existence is not confirmed). Other reviewers'
reviews of the same file show only once one's own is submitted. Staff see everything.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from grants.accounts.models import User
from grants.applications import queries as application_queries
from grants.applications.models import Attachment
from grants.core.enums import Role
from grants.core.permissions import roles_required, staff_required
from grants.extensions import db
from grants.organisations.models import Organisation
from grants.reviews import forms, operations, queries
from grants.reviews.models import LINK_KIND_LABELS, LinkKind, Opinion, ReviewerLink, ReviewStatus

bp = Blueprint("reviews", __name__)

reviewer_required = roles_required(Role.reviewer)


@bp.app_context_processor
def _helpers():
    return {"review_summary": queries.review_summary, "is_late_review": queries.is_late}


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _flash_error(exc: operations.ReviewError) -> None:
    flash(exc.message, "error")


# --- The reviewer's queue -----------------------------------------------------------------


@bp.get("/evaluations")
@reviewer_required
def queue():
    filters = queries.QueueFilters.from_args(request.args)
    pagination = queries.queue(current_user, filters, _page_arg())
    return render_template(
        "reviews/queue.html",
        pagination=pagination,
        filters=filters,
        states=queries.QUEUE_STATES,
        today=queries.today_paris(),
    )


def load_review(review_id: int):
    """The current user's review, or 404 (not theirs, unknown, or in conflict)."""
    review = queries.visible_review(review_id, current_user)
    if review is None:
        abort(404)
    return review


def _render_review(review, form=None, conflict_form=None, status: int = 200):
    from grants.applications.views import _summary_context

    application = application_queries.get_application(review.application_id)
    criteria = queries.grid(application.call_id)
    if form is None:
        form = forms.review_form_class(criteria)(
            formdata=None, data=forms.review_form_data(review, criteria)
        )
    others = (
        queries.other_submitted_reviews(review) if review.status == ReviewStatus.submitted else []
    )
    return render_template(
        "reviews/show.html",
        review=review,
        application=application,
        call=application.call,
        organisation=application.organisation,
        criteria=criteria,
        form=form,
        conflict_form=conflict_form or forms.ConflictForm(formdata=None),
        others=others,
        scores=queries.scores_by_criterion(review),
        can_edit=review.can_edit(current_user) and application.status in queries.REVIEWABLE,
        late=queries.is_late(review),
        **_summary_context(application),
    ), status


@bp.get("/evaluations/<int:review_id>")
@reviewer_required
def show(review_id: int):
    return _render_review(load_review(review_id))


@bp.post("/evaluations/<int:review_id>")
@reviewer_required
def save(review_id: int):
    review = load_review(review_id)
    criteria = queries.grid(review.application.call_id)
    form = forms.review_form_class(criteria)()
    if not form.validate_on_submit() and "csrf_token" in form.errors:
        abort(400)
    submit = request.form.get("action") == "submit"
    try:
        problems = operations.save_review(review, current_user, form.to_input(), submit=submit)
    except operations.ReviewError as exc:
        db.session.rollback()
        if exc.status == 422:
            form.show_errors(exc.fields)
            return _render_review(load_review(review_id), form=form, status=422)
        _flash_error(exc)
        return redirect(url_for(".show", review_id=review_id))
    db.session.commit()
    if form.errors or problems:
        form.show_errors(problems)
        flash(
            "Le brouillon est enregistré, mais l'évaluation n'est pas rendue : "
            "complétez les champs signalés."
            if submit
            else "Certaines valeurs n'ont pas été enregistrées : corrigez les champs signalés.",
            "error",
        )
        return _render_review(load_review(review_id), form=form, status=422)
    if submit:
        flash("Votre évaluation est rendue. Merci !", "success")
    else:
        flash("Le brouillon de votre évaluation est enregistré.", "success")
    return redirect(url_for(".show", review_id=review_id))


@bp.get("/evaluations/<int:review_id>/pieces/<int:attachment_id>")
@reviewer_required
def download(review_id: int, attachment_id: int):
    from grants.core.files import send_stored_file
    from grants.core.storage import StoredFileNotFound

    review = load_review(review_id)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.application_id != review.application_id:
        abort(404)
    try:
        return send_stored_file(
            attachment.storage_key, attachment.filename, attachment.content_type
        )
    except StoredFileNotFound:
        abort(404)


@bp.route("/evaluations/<int:review_id>/conflit", methods=["GET", "POST"])
@reviewer_required
def conflict(review_id: int):
    review = load_review(review_id)
    form = forms.ConflictForm()
    if request.method == "GET":
        form = forms.ConflictForm(formdata=None)
        return render_template("reviews/conflict.html", review=review, form=form)
    if form.validate_on_submit():
        reference = review.application.reference
        try:
            result = operations.declare_conflict(review, current_user, form.reason.data)
        except operations.ReviewError as exc:
            db.session.rollback()
            if exc.status == 422:
                form.reason.errors = [*form.reason.errors, *exc.fields.get("reason", [])]
                review = load_review(review_id)
            else:
                _flash_error(exc)
                return redirect(url_for(".show", review_id=review_id))
        else:
            db.session.commit()
            flash(
                f"Votre conflit d'intérêts sur le dossier {reference} est enregistré : "
                "le dossier vous est retiré"
                + (
                    " et confié à un autre évaluateur."
                    if result.reassigned
                    else ". Le service lui trouvera un autre évaluateur."
                ),
                "success",
            )
            return redirect(url_for(".queue"))
    return render_template("reviews/conflict.html", review=review, form=form), 422


# --- The reviewer's declared links --------------------------------------------------------


def _links_page(form=None, status: int = 200):
    q = (request.args.get("q") or "").strip()[:100]
    results = []
    if q:
        from grants.organisations.queries import search_all

        results = db.session.scalars(search_all(q).limit(20)).all()
    return render_template(
        "reviews/links.html",
        links=queries.links_of(current_user.id),
        form=form or forms.LinkForm(formdata=None),
        q=q,
        results=results,
        kind_choices=forms.KIND_CHOICES,
        kind_labels=LINK_KIND_LABELS,
    ), status


@bp.route("/mes-liens", methods=["GET", "POST"])
@reviewer_required
def links():
    if request.method == "GET":
        return _links_page()
    form = forms.LinkForm()
    if form.validate_on_submit():
        organisation = None
        if form.organisation_id_value is not None:
            organisation = db.session.get(Organisation, form.organisation_id_value)
            if organisation is None:
                abort(404)
        try:
            result = operations.add_link(
                current_user,
                LinkKind(form.kind.data),
                organisation=organisation,
                name=form.organisation_name.data or "",
                note=form.note.data or "",
            )
        except operations.ReviewError as exc:
            db.session.rollback()
            for name, messages in exc.fields.items():
                target = form.organisation_name if name == "organisation_id" else form[name]
                target.errors = [*target.errors, *messages]
            if not exc.fields:
                _flash_error(exc)
        else:
            db.session.commit()
            message = "Votre lien est enregistré."
            if result.conflicts:
                message += (
                    f" {len(result.conflicts)} dossier(s) de cette structure vous ont été "
                    "retirés (conflit d'intérêts)."
                )
            flash(message, "success")
            return redirect(url_for(".links"))
    return _links_page(form, 422)


@bp.post("/mes-liens/<int:link_id>/supprimer")
@reviewer_required
def delete_link(link_id: int):
    link = db.session.get(ReviewerLink, link_id)
    if link is None or link.reviewer_id != current_user.id:
        abort(404)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    operations.delete_link(link, current_user)
    db.session.commit()
    flash("Le lien déclaré est supprimé.", "success")
    return redirect(url_for(".links"))


# --- Staff: the pool of a call ------------------------------------------------------------


def _load_call(call_id: int):
    call = queries.get_call(call_id)
    if call is None:
        abort(404)
    return call


def _pool_page(call, add_form=None, auto_form=None, status: int = 200, result=None):
    members = queries.pool(call.id)
    in_pool = {m.reviewer_id for m in members}
    candidates = [u for u in queries.reviewer_users() if u.id not in in_pool]
    add_form = add_form or forms.PoolAddForm(formdata=None)
    add_form.reviewer_id.choices = forms.choices(
        [(None, "— Choisir —")] + [(u.id, f"{u.display_name} ({u.email})") for u in candidates]
    )
    return render_template(
        "reviews/pool.html",
        call=call,
        members=members,
        loads=queries.loads(call.id),
        candidates=candidates,
        add_form=add_form,
        auto_form=auto_form or forms.AutoAssignForm(formdata=None),
        confirm_form=forms.ConfirmForm(formdata=None),
        counts=queries.call_review_counts(call),
        result=result,
    ), status


@bp.get("/gestion/appels/<int:call_id>/evaluateurs")
@staff_required
def pool(call_id: int):
    return _pool_page(_load_call(call_id))


@bp.post("/gestion/appels/<int:call_id>/evaluateurs")
@staff_required
def pool_add(call_id: int):
    call = _load_call(call_id)
    form = forms.PoolAddForm()
    form.reviewer_id.choices = forms.choices((u.id, u.email) for u in queries.reviewer_users())
    if form.validate_on_submit():
        reviewer = db.session.get(User, form.reviewer_id.data)
        try:
            added = operations.add_to_pool(call, current_user, reviewer)
        except operations.ReviewError as exc:
            db.session.rollback()
            form.reviewer_id.errors = [*form.reviewer_id.errors, exc.message]
        else:
            db.session.commit()
            flash(
                f"{reviewer.display_name} est ajouté(e) au vivier."
                if added
                else f"{reviewer.display_name} est déjà dans le vivier.",
                "success" if added else "info",
            )
            return redirect(url_for(".pool", call_id=call.id))
    return _pool_page(call, add_form=form, status=422)


@bp.post("/gestion/appels/<int:call_id>/evaluateurs/<int:user_id>/retirer")
@staff_required
def pool_remove(call_id: int, user_id: int):
    call = _load_call(call_id)
    reviewer = db.get_or_404(User, user_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    if operations.remove_from_pool(call, current_user, reviewer):
        db.session.commit()
        flash(
            f"{reviewer.display_name} est retiré(e) du vivier (ses évaluations en cours "
            "sont conservées).",
            "success",
        )
    return redirect(url_for(".pool", call_id=call.id))


@bp.post("/gestion/appels/<int:call_id>/affectation-automatique")
@staff_required
def auto_assign(call_id: int):
    call = _load_call(call_id)
    form = forms.AutoAssignForm()
    if not form.validate_on_submit():
        return _pool_page(call, auto_form=form, status=422)
    try:
        result = operations.auto_assign_call(call, current_user, form.due_on.data)
    except operations.ReviewError as exc:
        db.session.rollback()
        if "due_on" in exc.fields:
            form.due_on.errors = [*form.due_on.errors, *exc.fields["due_on"]]
            return _pool_page(call, auto_form=form, status=422)
        _flash_error(exc)
        return redirect(url_for(".pool", call_id=call.id))
    db.session.commit()
    count = result.plan.count
    flash(
        f"{count} évaluation(s) confiée(s) automatiquement."
        if count
        else "Aucune évaluation à confier : chaque dossier a déjà ses évaluateurs.",
        "success",
    )
    if result.shortfalls:
        flash(
            f"{len(result.shortfalls)} dossier(s) n'ont pas toutes leurs évaluations : "
            + " ; ".join(f"{a.reference or a.id} — {s.message}" for a, s in result.shortfalls[:10])
            + (" ; …" if len(result.shortfalls) > 10 else ""),
            "warning",
        )
    return redirect(url_for(".pool", call_id=call.id))


# --- Staff: the reviews of a file ---------------------------------------------------------


def _load_application(application_id: int):
    application = application_queries.get_application(application_id)
    if application is None:
        abort(404)
    return application


def _file_page(application, assign_form=None, reopen_forms=None, status: int = 200):
    reviews = queries.reviews_of_application(application.id)
    criteria = queries.grid(application.call_id)
    reviewers = queries.reviewer_users()
    pool_ids = set(queries.pool_ids(application.call_id))
    assigned = {r.reviewer_id for r in reviews}
    declared = queries.conflict_pairs([application.id])
    likely = queries.likely_conflict_map([application.id], reviewers)
    candidates = []
    for user in reviewers:
        if user.id in assigned:
            continue
        refused = (application.id, user.id) in declared
        candidates.append(
            {
                "user": user,
                "in_pool": user.id in pool_ids,
                "refused": refused,
                "warnings": likely.get((application.id, user.id), []),
            }
        )
    candidates.sort(key=lambda c: (not c["in_pool"], c["refused"], c["user"].display_name))
    assign_form = assign_form or forms.AssignForm(formdata=None)
    assign_form.reviewer_id.choices = forms.choices(
        [(None, "— Choisir —")]
        + [
            (
                c["user"].id,
                c["user"].display_name
                + (" — conflit déclaré" if c["refused"] else "")
                + (" — conflit possible" if c["warnings"] else "")
                + ("" if c["in_pool"] else " (hors vivier)"),
            )
            for c in candidates
        ]
    )
    conflicts = queries.conflicts_of_application(application.id)
    conflict_users = {
        u.id: u
        for u in db.session.scalars(
            sa.select(User).where(User.id.in_([c.reviewer_id for c in conflicts]))
        )
    }
    return render_template(
        "reviews/staff_file.html",
        application=application,
        call=application.call,
        organisation=application.organisation,
        reviews=reviews,
        criteria=criteria,
        candidates=candidates,
        assign_form=assign_form,
        reopen_forms=reopen_forms or {},
        reopen_form=forms.ReopenForm(formdata=None),
        confirm_form=forms.ConfirmForm(formdata=None),
        conflicts=conflicts,
        conflict_users=conflict_users,
        reviewable=application.status in queries.REVIEWABLE,
        opinions=list(Opinion),
    ), status


@bp.get("/gestion/dossiers/<int:application_id>/evaluations")
@staff_required
def staff_file(application_id: int):
    return _file_page(_load_application(application_id))


@bp.post("/gestion/dossiers/<int:application_id>/evaluations")
@staff_required
def assign(application_id: int):
    application = _load_application(application_id)
    form = forms.AssignForm()
    form.reviewer_id.choices = forms.choices((u.id, u.email) for u in queries.reviewer_users())
    if form.validate_on_submit():
        reviewer = db.session.get(User, form.reviewer_id.data)
        try:
            _review, warnings = operations.assign(
                application, reviewer, current_user, form.due_on.data
            )
        except operations.ReviewError as exc:
            db.session.rollback()
            for name, messages in exc.fields.items():
                if name in form._fields:
                    form[name].errors = [*form[name].errors, *messages]
            if not exc.fields:
                _flash_error(exc)
            return _file_page(_load_application(application_id), assign_form=form, status=422)
        db.session.commit()
        flash(f"Le dossier est confié à {reviewer.display_name}.", "success")
        for warning in warnings:
            flash(f"Attention, conflit d'intérêts possible : {warning.message}", "warning")
        return redirect(url_for(".staff_file", application_id=application_id))
    return _file_page(application, assign_form=form, status=422)


def _staff_review(review_id: int):
    review = queries.get_review(review_id)
    if review is None:
        abort(404)
    return review


@bp.post("/gestion/evaluations/<int:review_id>/retirer")
@staff_required
def unassign(review_id: int):
    review = _staff_review(review_id)
    application_id = review.application_id
    name = review.reviewer.display_name
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        operations.unassign(review, current_user)
    except operations.ReviewError as exc:
        db.session.rollback()
        _flash_error(exc)
    else:
        db.session.commit()
        flash(f"L'évaluation est retirée à {name}.", "success")
    return redirect(url_for(".staff_file", application_id=application_id))


@bp.post("/gestion/evaluations/<int:review_id>/rouvrir")
@staff_required
def reopen(review_id: int):
    review = _staff_review(review_id)
    application_id = review.application_id
    form = forms.ReopenForm()
    if form.validate_on_submit():
        try:
            operations.reopen(review, current_user, form.reason.data)
        except operations.ReviewError as exc:
            db.session.rollback()
            if exc.status != 422:
                _flash_error(exc)
                return redirect(url_for(".staff_file", application_id=application_id))
            form.reason.errors = [*form.reason.errors, *exc.fields.get("reason", [exc.message])]
        else:
            db.session.commit()
            flash(
                f"L'évaluation de {review.reviewer.display_name} est rouverte ; "
                "l'évaluateur est prévenu.",
                "success",
            )
            return redirect(url_for(".staff_file", application_id=application_id))
    return _file_page(_load_application(application_id), reopen_forms={review_id: form}, status=422)
