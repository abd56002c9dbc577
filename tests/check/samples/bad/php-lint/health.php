<?php
if ($ready {
    echo "ok";
}
