"""Report pages: the web report and its PDF for members, brand settings, share links and what a link opens.

Members reach everything under /o/<org>/ through the access layer (auditors: only their own audits' reports).
A report wears the brand of the checklist's owner (a consultancy's, for a client's audit on its checklist), so its
stylesheet and logo are served per audit, never from the viewer's organization; the organization's own ones serve
only the Brand settings page. A share link opens /r/<token>/...: the read-only report, its PDF, and exactly the
photos, logo and stylesheet the report shows, with no navigation into the app; any token that does not work is a
plain 404. A consultancy's managers download the latest report of each client as one ZIP (reports/bundle.py).

PDFs and ZIPs are made by jobs (reports/rendering.py): a download finds its file ready, or answers 202 with a page
that says it is being prepared and asks `.../status` (JSON) until it is. Pages that only read do so without
SQLite's write lock.
"""

from __future__ import annotations

import hashlib

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from shopper.audits.models import Audit, Photo
from shopper.audits.views import overview_part
from shopper.database import reads_first, slow_before_writing
from shopper.errors import error_response, wants_json
from shopper.forms import ConfirmForm
from shopper.mail import mail_enabled
from shopper.media import get_storage, serve
from shopper.media.keys import logo_key, photo_key
from shopper.orgs.access import (
    Access,
    current_access,
    current_org,
    get_or_404,
    members_only,
    org_blueprint,
    require_role,
)
from shopper.orgs.models import Organization, Role
from shopper.reports import bundle, mailing, rendering, service, share
from shopper.reports.brand import LOGO_MAX_BYTES, BrandError, brand_of, page_size_css, theme_css
from shopper.reports.forms import BrandForm, EmailReportForm, ShareForm
from shopper.reports.models import BundleState, ReportBundle, ShareLink
from shopper.security import rate_limit
from shopper.timeutil import utcnow

#: settings of this feature, with their defaults (the README's configuration table lists them)
SHARE_HEADERS = {
    "X-Robots-Tag": "noindex, nofollow, noarchive",
    "Referrer-Policy": "no-referrer",
}

bp = org_blueprint("reports", __name__)
public = Blueprint("reports_public", __name__, url_prefix="/r")
rate_limit("RATE_LIMIT_SHARED_REPORTS")(public)


def _reads_first_on_get(endpoint, values) -> None:
    if request.method in ("GET", "HEAD"):
        reads_first()


bp.url_value_preprocessor(_reads_first_on_get)
public.url_value_preprocessor(_reads_first_on_get)


@bp.record_once
def _check_settings(state) -> None:
    page_size_css(state.app.config["REPORT_PAGE_SIZE"])  # a wrong setting fails at start-up, not on a download


def _font_url(name: str) -> str:
    return url_for("static", filename=f"fonts/{name}")


def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _css_response(css: str) -> Response:
    response = make_response(css)
    response.mimetype = "text/css"
    response.cache_control.private = True
    response.cache_control.max_age = 3600
    return response


def _logo_response(org: Organization) -> Response:
    """The thumbnail of the organization's logo, from its own storage folder; 404 when it has none."""
    if not org.logo_media_id:
        abort(404)
    return serve(logo_key(org.id, org.logo_media_id, "thumb"), etag=f"logo-{org.logo_media_id}")


def _pdf_response(audit: Audit, status_url: str, retry_url: str) -> Response:
    """The PDF when it is ready; else 202 and a page (or JSON) that says it is being prepared and waits for it.
    Its ETag is the fingerprint of what it is made of: a browser that has this very PDF gets 304, and any change
    to the report (a reopen and resubmit, a new brand) is a new fingerprint, so it never revalidates a stale one."""
    try:
        state = rendering.pdf_state(audit, utcnow())
    except service.ReportNotReady as e:
        return error_response(409, str(e))
    if state.state == rendering.PdfState.READY:
        document = state.file
        response = send_file(
            document.stream,
            mimetype="application/pdf",
            as_attachment=True,
            download_name=document.filename,
            max_age=0,
            etag=document.fingerprint,
            conditional=True,
        )
        response.cache_control.private = True
        if response.status_code == 200:
            response.headers["Content-Length"] = str(document.size)
        return response
    body = _pdf_status_body(state, request.path, status_url, retry_url)
    if wants_json():
        return make_response(jsonify(body), 202)
    return make_response(render_template("reports/preparing.html", **body), 202)


def _pdf_status_body(state: rendering.PdfStatus, download_url: str, status_url: str, retry_url: str) -> dict:
    return {
        "state": state.state,
        "message": state.message,
        "download_url": download_url,
        "status_url": status_url,
        "retry_url": retry_url if state.state == rendering.PdfState.FAILED else None,
    }


def _pdf_status(audit: Audit, download_url: str, status_url: str, retry_url: str) -> Response:
    """For the page that waits: where the PDF stands, as JSON (asking for it once more when it was forgotten)."""
    try:
        state = rendering.pdf_state(audit, utcnow())
    except service.ReportNotReady as e:
        return error_response(409, str(e))
    if state.file is not None:
        state.file.stream.close()
    return jsonify(_pdf_status_body(state, download_url, status_url, retry_url))


def _pdf_retry(audit: Audit, download_url: str) -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not audit.is_submitted:
        return error_response(409, "The report is ready once the audit is submitted.")
    shot = rendering.snapshot(audit)
    rendering.ask_for(audit.id, shot.fingerprint, utcnow())
    return redirect(download_url, 303)


# Members ------------------------------------------------------------------------------------------------------


def _member_links(audit: Audit, report, theme: str) -> service.Links:
    return service.Links(
        stylesheets=(
            url_for("static", filename="css/report.css"),
            url_for(".report_brand_css", audit_id=audit.id, v=_version(theme)),
        ),
        photo=lambda photo_id, rendition: url_for(
            "audits.photo_file", audit_id=audit.id, photo_id=photo_id, rendition=rendition
        ),
        logo=url_for(".report_logo", audit_id=audit.id, v=report.brand.logo_id) if report.brand.logo_id else None,
        pdf=url_for(".report_pdf", audit_id=audit.id),
        back=url_for("audits.overview", audit_id=audit.id),
    )


@bp.get("/audits/<int:audit_id>/report")
def report(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    try:
        data = service.load_report(audit)
    except service.ReportNotReady as e:
        return error_response(409, str(e))
    theme = theme_css(data.brand, _font_url)
    return service.render_html(data, _member_links(audit, data, theme), "member")


def _member_pdf_urls(audit_id: int) -> tuple[str, str, str]:
    return (
        url_for(".report_pdf", audit_id=audit_id),
        url_for(".report_pdf_status", audit_id=audit_id),
        url_for(".report_pdf_retry", audit_id=audit_id),
    )


@bp.get("/audits/<int:audit_id>/report.pdf")
def report_pdf(audit_id: int):
    _, status_url, retry_url = _member_pdf_urls(audit_id)
    return _pdf_response(get_or_404(Audit, audit_id), status_url, retry_url)


@bp.get("/audits/<int:audit_id>/report.pdf/status")
def report_pdf_status(audit_id: int):
    return _pdf_status(get_or_404(Audit, audit_id), *_member_pdf_urls(audit_id))


@bp.post("/audits/<int:audit_id>/report.pdf/retry")
def report_pdf_retry(audit_id: int):
    return _pdf_retry(get_or_404(Audit, audit_id), url_for(".report_pdf", audit_id=audit_id))


@bp.get("/audits/<int:audit_id>/report/brand.css")
def report_brand_css(audit_id: int):
    """The colours of the brand the report wears and the report font, as CSS custom properties (the page's CSP
    allows no inline style)."""
    audit = get_or_404(Audit, audit_id)
    return _css_response(theme_css(brand_of(service.brand_org_of(audit)), _font_url))


@bp.get("/audits/<int:audit_id>/report/logo.jpg")
def report_logo(audit_id: int):
    """The logo of the brand the report wears (the consultancy's, on a co-branded report)."""
    return _logo_response(service.brand_org_of(get_or_404(Audit, audit_id)))


@bp.get("/reports/brand.css")
@require_role(Role.MANAGER)
@members_only
def brand_css():
    """The organization's own colours, for the preview on its Brand settings page."""
    return _css_response(theme_css(brand_of(current_org()), _font_url))


@bp.get("/brand/logo.jpg")
@require_role(Role.MANAGER)
@members_only
def logo():
    """The organization's own logo, for its Brand settings page."""
    return _logo_response(current_org())


@bp.route("/brand", methods=["GET", "POST"])
@require_role(Role.MANAGER)
@members_only
@slow_before_writing
def brand():
    org = current_org()
    form = BrandForm(obj=org)
    if not org.is_consultancy:
        del form.white_label  # a consultancy's setting: a business's form has no such field, and ignores one posted
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            upload = form.logo.data
            logo = upload.read(LOGO_MAX_BYTES + 1) if upload and getattr(upload, "filename", "") else None
            try:
                warnings = service.save_brand(
                    org,
                    service.BrandInput(
                        display_name=form.display_name.data or "",
                        primary_color=form.primary_color.data or "",
                        accent_color=form.accent_color.data or "",
                        report_footer=form.report_footer.data or "",
                        contact_line=form.contact_line.data or "",
                        logo=logo,
                        remove_logo=bool(form.remove_logo.data),
                        white_label=bool(form.white_label.data) if org.is_consultancy else None,
                    ),
                )
            except BrandError as e:
                getattr(form, e.field or "display_name").errors.append(str(e))
                status = 400
            else:
                rendering.render_soon_for_brand(org.id, utcnow())
                for warning in warnings:
                    flash(warning, "warning")
                flash("Brand saved: every report shows it from now on.", "success")
                return redirect(url_for(".brand"))
        else:
            status = 400
    theme = theme_css(brand_of(org), _font_url)
    return render_template("reports/brand.html", form=form, org=org, theme_version=_version(theme)), status


@overview_part
def _overview_shares(audit: Audit, access: Access) -> dict:
    """A submitted audit's overview: its share links, for those who may make them (who may also reopen it)."""
    manages = audit.is_submitted and access.role_enum.at_least(Role.MANAGER)
    return {"shares": share.share_rows(audit, utcnow()) if manages else []}


@bp.post("/audits/<int:audit_id>/report/shares")
@require_role(Role.MANAGER)
@rate_limit("RATE_LIMIT_INVITING", per_person=True)
def create_share(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    form = ShareForm()
    if not form.validate_on_submit():
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("audits.overview", audit_id=audit.id))
    days = form.days.data or int(current_app.config["REPORT_SHARE_DAYS"])
    try:
        new = share.create_share_link(audit, current_user.id, utcnow(), days)
    except share.ShareError as e:
        flash(str(e), "error")
        return redirect(url_for("audits.overview", audit_id=audit.id))
    link = url_for("reports_public.shared_report", token=new.token, _external=True)
    return render_template("reports/share_created.html", audit=audit, link=link, share=new.link), 201


@bp.post("/audits/<int:audit_id>/report/shares/<int:link_id>/revoke")
@require_role(Role.MANAGER)
def revoke_share(audit_id: int, link_id: int):
    audit = get_or_404(Audit, audit_id)
    link = get_or_404(ShareLink, link_id, parent=audit)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    share.revoke_share_link(link, utcnow())
    flash(f"Share link …{link.hint} revoked: it no longer opens the report.", "success")
    return redirect(url_for("audits.overview", audit_id=audit.id))


@bp.route("/audits/<int:audit_id>/report/email", methods=["GET", "POST"])
@require_role(Role.MANAGER)
@rate_limit("RATE_LIMIT_REPORT_MAIL", per_person=True, methods=["POST"])
def email_report(audit_id: int):
    """Send the report by mail (reports/mailing.py): whoever may make share links may, each sending a link of its
    own."""
    audit = get_or_404(Audit, audit_id)
    if not audit.is_submitted:
        return error_response(409, "Only a submitted audit has a report to send.")
    form = EmailReportForm()
    form.members.choices = mailing.member_choices(audit.org_id)
    status = 200
    if request.method == "POST":
        if not mail_enabled():
            status = 409
        elif form.validate_on_submit():
            try:
                sent = mailing.email_report(
                    audit,
                    current_user,
                    form.recipients.data or "",
                    form.members.data or [],
                    form.message.data or "",
                    bool(form.attach.data),
                    utcnow(),
                    int(current_app.config["REPORT_SHARE_DAYS"]),
                )
            except mailing.MailingError as e:
                form.recipients.errors = [*form.recipients.errors, str(e)]
                status = 422
            else:
                count = len(sent.recipients)
                flash(
                    f"The report is on its way to {count} {'person' if count == 1 else 'people'}, each with share "
                    f"link …{sent.link.hint} (revoke it below to close it).",
                    "success",
                )
                return redirect(url_for("audits.overview", audit_id=audit.id), 303)
        else:
            status = 422
    return render_template("reports/email.html", audit=audit, form=form, mail_on=mail_enabled()), status


# A consultancy's latest reports, one ZIP -------------------------------------------------------------------------


def _bundle_access() -> None:
    """A consultancy's own managers and owners: a business has no clients (404), others may not (403)."""
    if not current_org().is_consultancy:
        abort(404)
    access = current_access()
    if access.is_consultant or not access.role_enum.at_least(Role.MANAGER):
        abort(403)


def _bundle_or_404(bundle_id: int) -> ReportBundle:
    return get_or_404(ReportBundle, bundle_id, ReportBundle.user_id == current_user.id)


def _bundle_state(made: ReportBundle) -> dict:
    return {
        "state": made.state,
        "message": made.error,
        "download_url": url_for(".bundle_zip", bundle_id=made.id) if made.state == BundleState.READY else None,
    }


@bp.route("/reports/bundles", methods=["GET", "POST"])
def bundles():
    """Every client's latest report in one ZIP: ask for one, see it being prepared, download it when it is ready."""
    _bundle_access()
    org = current_org()
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        if bundle.request_bundle(org, current_user.id, utcnow()) is None:
            return error_response(
                409,
                f"There is nothing to download yet: {org.name} has no active client in which you are a manager or "
                "owner. Once it has, this download holds the latest submitted report of each of them.",
            )
        flash("We are preparing the ZIP: it appears below when it is ready.", "success")
        return redirect(url_for(".bundles"), 303)
    return render_template(
        "reports/bundles.html",
        bundles=bundle.bundles_of(org.id, current_user.id),
        confirm=ConfirmForm(),
        days=bundle.BUNDLE_DAYS,
    )


@bp.get("/reports/bundles/<int:bundle_id>/status")
def bundle_status(bundle_id: int):
    _bundle_access()
    return jsonify(_bundle_state(_bundle_or_404(bundle_id)))


@bp.get("/reports/bundles/<int:bundle_id>.zip")
def bundle_zip(bundle_id: int):
    _bundle_access()
    made = _bundle_or_404(bundle_id)
    if made.state != BundleState.READY:
        return error_response(409, "This ZIP is not ready: its page says how it is going.")
    try:
        stream = get_storage().open(made.storage_key)
    except FileNotFoundError:
        abort(404)
    response = send_file(
        stream,
        mimetype="application/zip",
        as_attachment=True,
        download_name=bundle.zip_filename(current_org(), made.created_at),
        max_age=0,
    )
    response.cache_control.private = True
    response.headers["Content-Length"] = str(made.bytes)
    return response


# Through a share link -----------------------------------------------------------------------------------------


def _shared(token: str) -> ShareLink:
    link = share.find_share_link(token, utcnow())
    if link is None:
        abort(404)
    return link


def _share_page(status: int, message: str) -> tuple[str, int]:
    return render_template("reports/unavailable.html", status=status, message=message), status


@public.errorhandler(404)
def _share_not_found(error):
    return _share_page(404, "This link does not open anything. It may have expired or been withdrawn.")


@public.after_request
def _share_headers(response: Response) -> Response:
    for name, value in SHARE_HEADERS.items():
        response.headers[name] = value
    if response.mimetype == "text/html":
        response.cache_control.no_store = True
    response.cache_control.private = True
    return response


def _share_links(token: str, report, theme: str) -> service.Links:
    return service.Links(
        stylesheets=(
            url_for("static", filename="css/report.css"),
            url_for(".brand_css_shared", token=token, v=_version(theme)),
        ),
        photo=lambda photo_id, rendition: url_for(".photo_shared", token=token, photo_id=photo_id, rendition=rendition),
        logo=url_for(".logo_shared", token=token, v=report.brand.logo_id) if report.brand.logo_id else None,
        pdf=url_for(".pdf_download", token=token),
    )


@public.get("/<token>")
def shared_report(token: str):
    link = _shared(token)
    try:
        data = service.load_report(link.audit)
    except service.ReportNotReady:
        return _share_page(409, "This report is being revised. The link shows it again once the revision is done.")
    theme = theme_css(data.brand, _font_url)
    return service.render_html(data, _share_links(token, data, theme), "share")


def _share_pdf_urls(token: str) -> tuple[str, str, str]:
    return (
        url_for(".pdf_download", token=token),
        url_for(".pdf_status", token=token),
        url_for(".pdf_retry", token=token),
    )


@public.get("/<token>/report.pdf")
def pdf_download(token: str):
    link = _shared(token)
    if not link.audit.is_submitted:
        return _share_page(409, "This report is being revised. The link shows it again once the revision is done.")
    _, status_url, retry_url = _share_pdf_urls(token)
    return _pdf_response(link.audit, status_url, retry_url)


@public.get("/<token>/report.pdf/status")
def pdf_status(token: str):
    return _pdf_status(_shared(token).audit, *_share_pdf_urls(token))


@public.post("/<token>/report.pdf/retry")
def pdf_retry(token: str):
    return _pdf_retry(_shared(token).audit, url_for(".pdf_download", token=token))


@public.get("/<token>/brand.css")
def brand_css_shared(token: str):
    link = _shared(token)
    return _css_response(theme_css(brand_of(service.brand_org_of(link.audit)), _font_url))


@public.get("/<token>/logo.jpg")
def logo_shared(token: str):
    return _logo_response(service.brand_org_of(_shared(token).audit))


@public.get("/<token>/photos/<photo_id>/<any(display, thumb):rendition>.jpg")
def photo_shared(token: str, photo_id: str, rendition: str):
    link = _shared(token)
    photo = get_or_404(Photo, photo_id.lower(), parent=link.audit)
    return serve(photo_key(link.audit, photo.id, rendition), etag=f"{photo.id}-{rendition}")
