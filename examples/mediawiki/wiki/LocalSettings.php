<?php
# Site configuration lives here on the web VPS.
$wgSitename = "Wiki";
