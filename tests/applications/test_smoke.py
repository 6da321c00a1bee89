from tests.applications.conftest import csrf


def test_start_and_steps(app, applicant, create_call):
    call_id = create_call()
    client, user_id, org_id = applicant()
    r = client.get(f"/appels/{call_id}/candidater")
    assert r.status_code == 200, r.text
    token = csrf(client, f"/appels/{call_id}/candidater")
    r = client.post(
        f"/appels/{call_id}/candidater", data={"csrf_token": token, "organisation_id": org_id}
    )
    assert r.status_code == 302, r.text
    url = r.headers["Location"]
    for step in ["structure", "projet", "budget", "pieces", "attestation", "deposer"]:
        r = client.get(url.replace("structure", step))
        assert r.status_code == 200, (step, r.text[:3000])
    r = client.get(url.split("/etapes")[0])
    assert r.status_code == 200, r.text
    r = client.get("/dossiers")
    assert r.status_code == 200, r.text
