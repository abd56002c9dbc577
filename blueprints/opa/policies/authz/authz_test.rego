package phasekit.authz_test

import data.phasekit.authz
import rego.v1

services := {
	"mime-server": {
		"kind": "tcp",
		"callers": ["intranet-api", "public-app"],
		"external": false,
		"methods": ["RECEIVE", "SEND"],
		"max_body_bytes": 104857600,
		"mime_types": ["application/pdf", "image/jpeg", "text/plain"],
	},
	"gateway": {
		"kind": "gateway",
		"callers": [],
		"external": true,
		"methods": ["GET", "HEAD", "POST"],
		"max_body_bytes": 10485760,
		"mime_types": ["application/json", "multipart/form-data"],
	},
}

upload := {"service": "mime-server", "caller": "public-app", "method": "SEND", "content_type": "application/pdf", "content_length": 2048}

test_declared_caller_may_send_a_pdf if {
	authz.decision == {"allow": true, "reasons": []} with input as upload with data.phasekit.authz.services as services
}

test_undeclared_caller_is_refused if {
	authz.decision == {"allow": false, "reasons": [`caller "gateway" is not an authorised caller of mime-server`]} with input as object.union(upload, {"caller": "gateway"})
		with data.phasekit.authz.services as services
}

test_outside_caller_is_refused_by_a_private_service if {
	outside := object.remove(upload, ["caller"])
	authz.decision.reasons == ["mime-server accepts no requests from outside the system"] with input as outside
		with data.phasekit.authz.services as services
}

test_outside_caller_reaches_a_public_service if {
	authz.allow with input as {"service": "gateway", "method": "get"} with data.phasekit.authz.services as services
}

test_upload_over_the_limit_is_refused if {
	not authz.allow with input as object.union(upload, {"content_length": 104857601}) with data.phasekit.authz.services as services
}

test_upload_at_the_limit_is_allowed if {
	authz.allow with input as object.union(upload, {"content_length": 104857600}) with data.phasekit.authz.services as services
}

test_disallowed_mime_type_is_refused if {
	authz.decision.reasons == [`media type "application/x-msdownload" is not allowed (allowed: application/pdf, image/jpeg, text/plain)`] with input as object.union(upload, {"content_type": "application/x-msdownload"})
		with data.phasekit.authz.services as services
}

test_media_type_parameters_are_ignored if {
	form := {"service": "gateway", "method": "POST", "content_type": "Multipart/Form-Data; boundary=xyz", "content_length": 10}
	authz.allow with input as form with data.phasekit.authz.services as services
}

test_disallowed_method_is_refused if {
	not authz.allow with input as object.union(upload, {"method": "DELETE"}) with data.phasekit.authz.services as services
}

test_unknown_service_is_refused if {
	authz.decision.reasons == [`unknown service "billing"`] with input as {"service": "billing", "method": "GET"}
		with data.phasekit.authz.services as services
}

test_negative_or_textual_length_is_refused if {
	not authz.allow with input as object.union(upload, {"content_length": -1}) with data.phasekit.authz.services as services
	not authz.allow with input as object.union(upload, {"content_length": "2048"}) with data.phasekit.authz.services as services
}

test_empty_input_is_refused if {
	not authz.allow with input as {} with data.phasekit.authz.services as services
}
