<?php
http_response_code(200);
echo json_encode(["status" => "alive"]), "\n";
