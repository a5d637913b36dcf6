(function(){
 var t=document.getElementById('models');if(!t)return;
 var body=t.tBodies[0],heads=t.tHead.rows[0].cells,dir={};
 for(var i=0;i<heads.length;i++)(function(k){heads[k].addEventListener('click',function(){
  var rows=Array.prototype.slice.call(body.rows),d=dir[k]=-(dir[k]||-1);
  rows.sort(function(a,b){var x=a.cells[k].getAttribute('data-v')||a.cells[k].textContent,
   y=b.cells[k].getAttribute('data-v')||b.cells[k].textContent,nx=parseFloat(x),ny=parseFloat(y);
   if(!isNaN(nx)&&!isNaN(ny))return d*(nx-ny);if(x===''&&y!=='')return 1;if(y===''&&x!=='')return -1;
   return d*x.localeCompare(y);});
  rows.forEach(function(r){body.appendChild(r);});});})(i);
 var f=document.getElementById('filter');
 f.addEventListener('input',function(){var q=f.value.toLowerCase();
  Array.prototype.forEach.call(body.rows,function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});
})();
