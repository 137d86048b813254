// Command flovyn is the flovyn workflow server and its admin client.
package main

import "github.com/flovyn/flovyn/cmd"

func main() { cmd.Execute() }
