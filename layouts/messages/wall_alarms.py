MESSAGES = {
    "alarm.level.critical": {"id": "KRITIS", "en": "CRITICAL"},
    "alarm.level.warning": {"id": "PERINGATAN", "en": "WARNING"},
    "alarm.level.info": {"id": "INFO", "en": "INFO"},
    "wall.alarm.count": {"id": "×{n}", "en": "×{n}"},
    "wall.alarm.since": {"id": "sejak {age}", "en": "for {age}"},
    "wall.alarm.more": {"id": "dan {n} alarm lain belum diterima", "en": "and {n} more unacknowledged alarms"},
    "wall.alarm.silent": {"id": "jam tenang: tanpa suara", "en": "quiet hours: no sound"},
    "wall.alarm.sound_blocked": {
        "id": "Suara diblokir browser — alarm tidak berbunyi. Klik sekali di layar ini, atau jalankan Chromium "
              "dengan --autoplay-policy=no-user-gesture-required",
        "en": "Sound blocked by the browser — alarms make no sound. Click once on this screen, or start Chromium "
              "with --autoplay-policy=no-user-gesture-required"},
    "wall.alarm.no_audio": {"id": "Browser ini tidak dapat membunyikan alarm", "en": "This browser cannot sound alarms"},
    "wall.col.owner": {"id": "Ditangani", "en": "Handled by"},
    "wall.col.ack": {"id": "Diterima", "en": "Acknowledged"},
}
