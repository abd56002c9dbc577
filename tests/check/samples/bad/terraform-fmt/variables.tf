variable "x" {
type = string
    description = "badly indented"
}
