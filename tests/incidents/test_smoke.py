def test_incident_list_for_technician(tina_api, make_incident):
    make_incident()
    response = tina_api.get("/api/incidents/")
    assert response.status_code == 200
    assert response.json()["count"] == 1
