#!/usr/bin/env python3
"""ftplib against ftpd, run by integration/interop_python_test.go.

  ftplib_client.py basic HOST PORT USER PASS SRC_IP LOCAL_FILE
      login, STOR LOCAL_FILE as up.bin, RETR it back, MLSD, SIZE, DELE.
  ftplib_client.py fxp SRC_HOST SRC_PORT DST_HOST DST_PORT USER PASS SRC_IP
                       SRC_NAME DST_NAME PASV_SIDE(source|destination)
      FXP copy orchestrated with ftplib: PASV on one server, PORT to the
      other, STOR then RETR, both transfer replies read in two threads
      (one side's silence must not hide the other's refusal).

Prints one JSON object on stdout; exits 0 only when everything worked.
"""
import ftplib
import hashlib
import io
import json
import sys
import threading

TIMEOUT = 20


def connect(host, port, user, password, src_ip):
    ftp = ftplib.FTP(timeout=TIMEOUT, source_address=(src_ip, 0))
    ftp.connect(host, int(port))
    ftp.login(user, password)
    ftp.voidcmd("TYPE I")
    return ftp


def basic(host, port, user, password, src_ip, local_file):
    out = {}
    ftp = connect(host, port, user, password, src_ip)
    out["welcome"] = ftp.getwelcome()
    with open(local_file, "rb") as f:
        data = f.read()
    out["stor"] = ftp.storbinary("STOR up.bin", io.BytesIO(data))
    buf = io.BytesIO()
    out["retr"] = ftp.retrbinary("RETR up.bin", buf.write)
    out["retr_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    out["local_sha256"] = hashlib.sha256(data).hexdigest()
    # Default facts: ftplib's mlsd(facts=[...]) sends OPTS MLST first,
    # which ftpserverlib answers "500 Don't know this option"; record it.
    try:
        out["opts_mlst"] = ftp.sendcmd("OPTS MLST type;size;")
    except ftplib.error_perm as e:
        out["opts_mlst"] = str(e)
    facts = dict(ftp.mlsd(""))
    out["mlsd"] = facts
    out["size"] = ftp.size("up.bin")
    out["nlst"] = ftp.nlst()
    out["dele"] = ftp.delete("up.bin")
    ftp.quit()
    ok = (out["retr_sha256"] == out["local_sha256"]
          and facts.get("up.bin", {}).get("type") == "file"
          and int(facts["up.bin"]["size"]) == len(data)
          and out["size"] == len(data))
    return ok, out


def fxp(src_host, src_port, dst_host, dst_port, user, password, src_ip,
        src_name, dst_name, pasv_side):
    src = connect(src_host, src_port, user, password, src_ip)
    dst = connect(dst_host, dst_port, user, password, src_ip)
    pasv, port = (src, dst) if pasv_side == "source" else (dst, src)
    reply = pasv.sendcmd("PASV")
    host, p = ftplib.parse227(reply)
    nums = host.split(".") + [str(p >> 8), str(p & 0xFF)]
    out = {"pasv": reply, "port": port.sendcmd("PORT " + ",".join(nums))}
    dst.putcmd("STOR " + dst_name)
    src.putcmd("RETR " + src_name)

    def final(name, ftp):
        replies = []
        try:
            while True:
                r = ftp.getline()
                # multi-line replies are not expected here
                replies.append(r)
                if not r[:1] == "1":
                    break
        except Exception as e:  # timeout or EOF: record, don't hang
            replies.append("error: %r" % e)
        out[name] = replies

    threads = [threading.Thread(target=final, args=("src", src)),
               threading.Thread(target=final, args=("dst", dst))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = out["src"][-1].startswith("226") and out["dst"][-1].startswith("226")
    for ftp in (src, dst):
        try:
            ftp.quit()
        except Exception:
            ftp.close()
    return ok, out


def main(argv):
    mode = argv[1]
    if mode == "basic":
        ok, out = basic(*argv[2:8])
    elif mode == "fxp":
        ok, out = fxp(*argv[2:12])
    else:
        raise SystemExit("unknown mode " + mode)
    out["ok"] = ok
    print(json.dumps(out, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
