// LTI Dynamic Registration: tell the LMS that registration is complete, so it closes this page.
(window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
