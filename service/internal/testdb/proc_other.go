//go:build !linux

package testdb

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
