package controlconn

import (
	"net"
	"time"
)

// Listener accepts control connections and returns them as *Conn.
type Listener struct {
	net.Listener
	TLSConfig TLSConfigFunc
	Implicit  bool // implicit TLS: handshake at once
	// LoginTimeout, if above 0, is the time from accept within which the
	// TLS handshake and the login must be done (see New).
	LoginTimeout time.Duration
	// Admit, if set, is asked about every new connection before the FTP
	// library sees it. A non-empty refusal is sent as a reply line (e.g.
	// "421 Too many connections") and the connection is closed.
	Admit func(raw net.Conn) (refusal string)
	// Release, if set, is called for an admitted connection that is
	// dropped before the FTP library sees it.
	Release func(raw net.Conn)
	// OnAccept, if set, is called with every admitted connection.
	OnAccept func(*Conn)
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.Admit != nil {
			if refusal := l.Admit(raw); refusal != "" {
				l.refuse(raw, refusal)
				continue
			}
		}
		c, err := New(raw, l.TLSConfig, l.Implicit, l.LoginTimeout)
		if err != nil {
			// Only a missing TLS configuration gets here; the server
			// validates it before listening. Drop this client, keep serving.
			if l.Release != nil {
				l.Release(raw)
			}
			raw.Close()
			continue
		}
		if l.OnAccept != nil {
			l.OnAccept(c)
		}
		return c, nil
	}
}

// refuse answers and closes without blocking the accept loop on a slow
// peer (implicit TLS would need a handshake first: there the connection is
// just closed).
func (l *Listener) refuse(raw net.Conn, refusal string) {
	go func() {
		defer raw.Close()
		if l.Implicit {
			return
		}
		_ = raw.SetWriteDeadline(time.Now().Add(writeRefusalTimeout))
		_, _ = raw.Write([]byte(refusal + "\r\n"))
	}()
}
