# METADATA
# title: Application authorization (skeleton)
# description: >-
#   The decision a service asks OPA for before it serves a request:
#   POST /v1/data/phasekit/authz/decision with {"input": {"service": "<its id>",
#   "caller": "<calling service id, absent for requests from outside>", "method": "SEND",
#   "content_type": "application/pdf", "content_length": 2048}} answers
#   {"result": {"allow": true|false, "reasons": [...]}}. What each service accepts is data
#   (data.phasekit.authz.services, generated from architecture.yaml by service kind): authorised
#   callers are the services that declare depends_on on it, outside callers reach only
#   public-zone services, and methods, body size and media types are skeleton defaults to tighten.
# custom:
#   severity: high
package phasekit.authz

import rego.v1

default allow := false

allow if count(reasons) == 0

decision := {"allow": allow, "reasons": sort([r | some r in reasons])}

rules := data.phasekit.authz.services[input.service]

method := upper(object.get(input, "method", ""))

# The media type without parameters: "multipart/form-data; boundary=x" -> "multipart/form-data".
media_type := lower(trim_space(split(object.get(input, "content_type", ""), ";")[0]))

content_length := object.get(input, "content_length", 0)

_caller := object.get(input, "caller", "")

reasons contains sprintf("unknown service %q", [object.get(input, "service", "")]) if not rules

reasons contains sprintf("caller %q is not an authorised caller of %s", [_caller, input.service]) if {
	rules
	_caller != ""
	not _caller in rules.callers
}

reasons contains sprintf("%s accepts no requests from outside the system", [input.service]) if {
	rules
	_caller == ""
	not rules.external
}

reasons contains sprintf("method %q is not allowed (allowed: %s)", [method, concat(", ", rules.methods)]) if {
	rules
	not method in rules.methods
}

reasons contains "content_length must be a number of bytes, 0 or more" if {
	rules
	not _valid_length
}

reasons contains sprintf("body of %d bytes exceeds the limit of %d", [content_length, rules.max_body_bytes]) if {
	_valid_length
	content_length > rules.max_body_bytes
}

reasons contains sprintf("media type %q is not allowed (allowed: %s)", [media_type, concat(", ", rules.mime_types)]) if {
	_valid_length
	content_length > 0
	not media_type in rules.mime_types
}

_valid_length if {
	is_number(content_length)
	content_length >= 0
}
