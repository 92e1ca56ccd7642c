package fxp

// announceSize sends ALLO with the number of bytes the coming STOR/APPE
// brings (RFC 959 4.1.3). A destination that checks it (ftpd) then fails
// a transfer whose data stream ends short — a source that died mid-copy —
// with 451 instead of reporting a truncated file done; for STOR it also
// keeps the old file. Servers that do not check ALLO answer 202 or refuse
// it: both are fine. Only a broken control connection is an error.
func (w *worker) announceSize(n int64) error {
	if n <= 0 {
		return nil
	}
	code, msg, err := w.dst.c.Cmd("ALLO %d", n)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		w.cl.log.Debug("destination refused ALLO; its size check is off", "reply", code, "msg", msg)
	}
	return nil
}
