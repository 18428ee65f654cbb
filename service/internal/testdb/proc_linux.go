package testdb

import "syscall"

// sysProcAttr makes a server die with the test binary, so a killed test run leaves no
// server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
