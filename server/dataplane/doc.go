// Package dataplane makes, judges and hands over every FTP data connection
// of ftpd. The FTP library keeps the protocol (commands, replies, the copy
// between a data connection and a file); this package owns the network
// side, so that there is one door for data and one verdict per connection.
//
// How one data connection travels:
//
//  1. PORT/EPRT: the control screen (server.session.Screen) parses the
//     argument strictly with ParsePORT/ParseEPRT; anything it cannot parse
//     is answered 501 there and never reaches the library. An address the
//     policy refuses even before the command is known (a port below 1024,
//     a foreign address with FXP off) is answered 501 as well. Either
//     refusal clears the session's data target (Channel.Clear). An allowed
//     target is recorded with Channel.Active, and the library is sent
//     "EPSV" instead: the library only ever sees passive transfers and
//     never parses an address.
//     PASV/EPSV: Channel.Passive records that the library's next passive
//     reply belongs to a passive setup.
//  2. The library opens a listener for the EPSV/PASV and hands it to
//     Plane.Wrap (MainDriverExtensionPassiveWrapper), which registers a
//     Listener under its port. The library then writes its 227/229 reply;
//     Channel.Reply sees it, binds that Listener to the session (claim),
//     and for an active setup replaces the reply with
//     "200 PORT command successful".
//  3. A transfer command (RETR, STOR, APPE, LIST, NLST, MLSD) makes the
//     library call Listener.Accept. Accept asks the session for the
//     waiting command (its direction) and:
//     - active: judges the target (Session.Judge, the one policy call)
//     before any connection exists, then dials it from the control
//     connection's local address (and port 20 when configured);
//     - passive: accepts on the port, resets connections that arrived on
//     another local address than the control connection's, judges each
//     peer, resets the refused ones and keeps waiting (port theft gets
//     nothing; the real peer still gets its transfer).
//     ABOR/QUIT cancel a waiting Accept at once (Channel.Abort).
//  4. The accepted or dialled *net.TCPConn goes to the library untouched,
//     which copies between it and the driver's file handle; the driver
//     asks Channel.Approved whether the peer it sees is the one this
//     package handed over (a fail-closed assertion, not a second policy).
//     A listing's connection (LIST, NLST, MLSD) goes through the
//     session's Lister.ListingConn, which may wrap it to stream the
//     listing itself (package server/listing).
//
// What one client can hold is bounded (Limits, live across reloads):
//   - a data port no transfer uses expires after ListenerTimeout
//     (Listener.expire); the transfer that comes later gets 425;
//   - one client block (Session.ClientBlock: an IPv4 address or an IPv6
//     prefix) holds at most MaxPerClient ports at once, checked when the
//     library's 227/229 reply binds a port (Plane.claim); past it the
//     port is closed at once and the client gets 425;
//   - a handed-over data connection that moves no byte for DataTimeout
//     fails: idleWatch sets the connection's deadline and pushes it back
//     whenever the socket's kernel byte counters move, without wrapping
//     the connection (sendfile/splice stay); the library's failure reply
//     then becomes 426 (Channel.idleReply).
package dataplane
