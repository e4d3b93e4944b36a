"""One router per resource of the HTTP API. Each is an ``APIRouter`` whose handlers reach the service through
``llmrec.serving.service.ServiceDep`` (``request.app.state.service``), so a router can be mounted on a bare app and
tested alone; ``llmrec.serving.app.create_app`` includes them all."""
