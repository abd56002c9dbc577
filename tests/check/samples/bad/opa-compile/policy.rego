package bad

import rego.v1

deny contains msg if {
	msg := no_such_function(input)
}
