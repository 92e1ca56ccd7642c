package fxp

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// Reply is a server's final answer to a transfer command.
type Reply struct {
	Code    int
	Msg     string
	Err     error // no reply could be read
	Aborted bool  // came after ABOR was sent (or never came)
}

func (r Reply) ok() bool { return r.Err == nil && r.Code >= 200 && r.Code < 300 }

func (r Reply) String() string {
	s := fmt.Sprintf("%d %s", r.Code, oneLine(r.Msg))
	if r.Code == 0 {
		s = "no reply"
		if r.Err != nil {
			s += " (" + r.Err.Error() + ")"
		}
	}
	if r.Aborted {
		s += " [after ABOR]"
	}
	return s
}

// Stages of an attempt, where it can fail.
const (
	stagePASV     = "PASV"
	stagePORT     = "PORT"
	stageREST     = "REST"
	stageTransfer = "transfer"
)

// Attempt is one try at copying a file with one side passive.
type Attempt struct {
	Passive  string         // role given PASV: "source" or "destination"
	PasvAddr netip.AddrPort // the data address it announced
	Stage    string         // how far it got
	Err      error          // a command before the transfer failed
	Store    string         // STOR or APPE
	Src, Dst Reply          // final replies to RETR and STOR/APPE
}

func (a *Attempt) ok() bool { return a.Err == nil && a.Src.ok() && a.Dst.ok() }

// portRole is the side that got PORT.
func (a *Attempt) portRole() string {
	if a.Passive == roleSrc {
		return roleDst
	}
	return roleSrc
}

// attempt runs one FXP copy of j: PASV on one side, PORT on the other,
// REST on the source when resuming, store (STOR or APPE) of j.dst.Path on
// the destination, RETR on the source, then both final replies. watch
// runs while the data flows. size is the source's size (-1 unknown),
// announced to the destination with ALLO.
func (w *worker) attempt(ctx context.Context, j job, pasvSrc bool, offset, size int64, store string, watch func(context.Context)) Attempt {
	pasv, port := w.dst, w.src
	if pasvSrc {
		pasv, port = w.src, w.dst
	}
	a := Attempt{Passive: pasv.role, Stage: stagePASV, Store: store}
	cpsv := false
	if w.cl.opts.Secure {
		var err error
		if cpsv, err = w.secure(pasv, port); err != nil {
			a.Err = err
			return a
		}
	}
	var addr netip.AddrPort
	var err error
	if cpsv {
		addr, err = pasv.cpsv()
	} else {
		addr, err = pasv.passive()
	}
	if err != nil {
		a.Err = fmt.Errorf("%s: %w", pasv, err)
		return a
	}
	a.PasvAddr, a.Stage = addr, stagePORT
	if err := port.c.Port(addr, addr.Addr().Is6()); err != nil {
		a.Err = fmt.Errorf("%s: %w", port, err)
		return a
	}
	if offset > 0 {
		a.Stage = stageREST
		if _, err := w.src.c.Expect(350, "REST %d", offset); err != nil {
			a.Err = fmt.Errorf("%s: %w", w.src, err)
			return a
		}
	}
	if size >= 0 {
		if err := w.announceSize(size - offset); err != nil {
			a.Err = fmt.Errorf("%s: ALLO: %w", w.dst, err)
			return a
		}
	}
	a.Stage = stageTransfer
	w.cl.log.Debug("transfer", "passive", pasv.role, "addr", addr.String(), "store", a.Store, "src", j.src.Path, "dst", j.dst.Path)
	if err := w.dst.c.Send("%s %s", a.Store, j.dst.Path); err != nil {
		a.Err = fmt.Errorf("%s: send %s: %w", w.dst, a.Store, err)
		return a
	}
	srcErr := w.src.c.Send("RETR %s", j.src.Path)
	if srcErr != nil {
		srcErr = fmt.Errorf("%s: send RETR: %w", w.src, srcErr)
	}
	w.await(ctx, &a, srcErr, watch)
	return a
}

// await reads both final replies concurrently, so that one side's silence
// cannot hide the other's refusal. Once one side has failed, the other
// gets Grace to give its own reply, then ABOR; once one side has
// succeeded, the other gets Settle. When ctx ends (Ctrl-C) both are
// aborted at once. After ABOR, AbortWait bounds the wait for replies;
// then reading stops (the connections are closed by the caller).
func (w *worker) await(ctx context.Context, a *Attempt, srcSendErr error, watch func(context.Context)) {
	opts := w.cl.opts
	readCtx, stopReading := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReading()
	srcCh, dstCh := make(chan Reply, 1), make(chan Reply, 1)
	go readFinal(readCtx, w.dst, dstCh)
	if srcSendErr != nil {
		srcCh <- Reply{Err: srcSendErr}
	} else {
		go readFinal(readCtx, w.src, srcCh)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watch(watchCtx)
	}()
	defer func() {
		stopWatch()
		<-watched
	}()

	var (
		src, dst *Reply
		aborted  bool
		timer    *time.Timer
		timeout  <-chan time.Time
		cancel   = ctx.Done()
	)
	arm := func(d time.Duration) {
		if timer != nil {
			timer.Stop()
		}
		timer = time.NewTimer(d)
		timeout = timer.C
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	abort := func() {
		aborted = true
		for _, s := range []struct {
			srv  *server
			done bool
		}{{w.src, src != nil}, {w.dst, dst != nil}} {
			if !s.done {
				w.cl.log.Debug("ABOR", "server", s.srv.String())
				_ = s.srv.c.Send("ABOR")
			}
		}
		arm(opts.AbortWait)
	}
	for src == nil || dst == nil {
		select {
		case r := <-srcCh:
			r.Aborted = r.Aborted || aborted
			src = &r
		case r := <-dstCh:
			r.Aborted = r.Aborted || aborted
			dst = &r
		case <-cancel:
			cancel = nil
			if !aborted {
				abort()
			}
		case <-timeout:
			timeout = nil
			if !aborted {
				abort()
			} else {
				stopReading() // ABOR went unanswered
			}
		}
		if !aborted && timeout == nil && (src == nil) != (dst == nil) {
			if first := firstOf(src, dst); first.ok() {
				arm(opts.Settle)
			} else {
				arm(opts.Grace)
			}
		}
	}
	a.Src, a.Dst = *src, *dst
}

func firstOf(a, b *Reply) *Reply {
	if a != nil {
		return a
	}
	return b
}

// readFinal reads replies until a final one (not 1xx).
func readFinal(ctx context.Context, s *server, out chan<- Reply) {
	for {
		code, msg, err := s.c.WaitReply(ctx)
		if err != nil {
			out <- Reply{Err: err, Aborted: ctx.Err() != nil}
			return
		}
		if code >= 100 && code < 200 {
			continue
		}
		out <- Reply{Code: code, Msg: msg}
		return
	}
}
